"""Qt item models: the photo library shown in the thumbnail grid."""
