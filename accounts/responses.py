"""Responses the browser pages share."""

from http import HTTPStatus

from django.http import HttpResponseRedirect


class SeeOther(HttpResponseRedirect):
    """A 303 to a page of this service or a web site: Django's schemes only (http, https, ftp)."""

    status_code = HTTPStatus.SEE_OTHER
