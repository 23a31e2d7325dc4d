// diff page (filled in below)
