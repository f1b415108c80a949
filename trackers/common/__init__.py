"""Building blocks shared by tracker families (Kalman filters, IoU association); no family's own."""
