import pytest
from django.contrib.contenttypes.models import ContentType
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
def test_x(open_as):
    page = open_as("mark")
def test_count():
    from django.db import connection
    with connection.cursor() as c:
        c.execute("select count(*) from django_content_type"); print("CTCOUNT", c.fetchone())
        c.execute("select count(*) from accounts_user"); print("USERS", c.fetchone())
