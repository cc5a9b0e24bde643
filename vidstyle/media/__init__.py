"""Media input and output: still images, video containers, optical flow."""
