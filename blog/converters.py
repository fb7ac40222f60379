class PostIdConverter:
    """A positive id that fits a 64-bit column: longer numbers are a 404, not a
    database overflow error."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)
