"""The one exception the integration clients raise; the API turns it into a problem response."""


class UpstreamError(Exception):
    """An external system failed or refused. `code` is the API error code (API.md) it maps to."""

    def __init__(self, code: str, detail: str, status: int = 503):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status

    def __reduce__(self):  # pickled whole (the registry sync's reader hands its failures over)
        return type(self), (self.code, self.detail, self.status), self.__dict__
