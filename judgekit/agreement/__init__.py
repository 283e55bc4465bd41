"""Agreement statistics: verdicts and labels in, the numbers researchers publish out."""
