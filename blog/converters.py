from .models import MAX_POST_ID


class PostIdConverter:
    """A post id, 1 to MAX_POST_ID, the API's rule too: anything else is a 404."""

    regex = "[1-9][0-9]{0,18}"

    def to_python(self, value):
        post_id = int(value)
        if post_id > MAX_POST_ID:
            raise ValueError("past the largest id")  # the URL does not match
        return post_id

    def to_url(self, value):
        return str(value)
