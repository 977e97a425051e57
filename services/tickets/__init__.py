"""tickets: residents' problems and needs, their deadlines, dispatches and reviews."""
