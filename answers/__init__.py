"""How the site's views answer what they will not serve as asked: a bad query
(400) or "too much at once" (503) in errors.py, the demos that are off in
production (demos.py), and streams that end when the server stops
(streams.py). Neither an app nor the project package, so that every app can
use it without importing `mysite`."""
