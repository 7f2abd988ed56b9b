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


class FormParser(parsers.FormParser):
    """DRF's form parser; a charset Python cannot decode with (idna, punycode...) is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except (UnicodeError, LookupError):
            raise ParseError("The form's charset cannot be decoded.") from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, with the same treatment of undecodable charsets."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except (UnicodeError, LookupError):
            raise ParseError("The form's charset cannot be decoded.") from None
