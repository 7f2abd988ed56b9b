"""DRF's browsable API, for endpoints that only take POST (the OAuth endpoints)."""

from http import HTTPStatus

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's page, whose POST form is always the request's; a browser's GET of a POST-only endpoint
    shows that form rather than a 405. Only text/html is rendered here: every other client keeps
    the endpoint's answers, 405 included. The page names the service (SERVICE_NAME)."""

    template = "accounts/browsable_api.html"

    def get_description(self, view, status_code):
        # DRF hides the description on a 401; here it is what tells a browser how to get in.
        if status_code == HTTPStatus.UNAUTHORIZED:
            return view.get_view_description(html=True)
        return super().get_description(view, status_code)

    def get_rendered_html_form(self, data, view, method, request):
        # DRF binds the form of the request's method to the serializer of the response's data: after
        # a POST /login, a form of the token response. The POST form is the request's, and empty
        # (no password or token echoed into the page).
        return super().get_rendered_html_form(None if method == "POST" else data, view, method, request)

    def render(self, data, accepted_media_type=None, renderer_context=None):
        request, response, view = (renderer_context[key] for key in ("request", "response", "view"))
        if (
            request.method in ("GET", "HEAD")
            and response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
            and "POST" in view.allowed_methods
        ):
            # As DRF turns a 204 into a 200 to show its page; `Allow` still says POST, OPTIONS.
            response.status_code, data = HTTPStatus.OK, None
        return super().render(data, accepted_media_type, renderer_context)
