// sessions page
