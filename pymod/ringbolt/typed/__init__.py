"""ringbolt's the typed layer: each route's plan, compiled once into the function a request runs."""
