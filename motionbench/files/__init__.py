"""Files in and out: atomic verified writes (:mod:`.atomic`), images and clips from what users hold
(:mod:`.media`), and verified video output (:mod:`.video_out`)."""
