"""Request parsers: DRF's, made to fail as a 400 on every malformed body."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; deeply nested JSON is a parse error (400), not a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


class _UndecodableCharsetIsParseError:
    """A charset Python cannot decode with (idna, punycode, an unknown name) is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except (UnicodeError, LookupError):
            raise ParseError("The form's charset cannot be decoded.") from None


class FormParser(_UndecodableCharsetIsParseError, parsers.FormParser):
    pass


class MultiPartParser(_UndecodableCharsetIsParseError, parsers.MultiPartParser):
    pass
