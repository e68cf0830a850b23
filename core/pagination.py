"""The API's page numbers, as the schema states them: `page` is a whole number from 1. DRF would read a blank
`page=` as page 1 and `page=last` as the last page; both are refused here (400 naming `page`) like any other
value that is not a page number. A page past the end is absent (404)."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    last_page_strings = ()

    def get_page_number(self, request, paginator):
        number = request.query_params.get(self.page_query_param)
        if number is None:
            return 1
        if not (number.isascii() and number.isdigit()) or int(number) < 1:
            raise ValidationError({self.page_query_param: ["A page number: a whole number from 1."]})
        return number

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters
