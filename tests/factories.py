import factory
from django.conf import settings

from accounts.models import Membership, User, Workspace


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    plan_id = "free"
    password = factory.PostGenerationMethodCall("set_password", settings.BYOK_DEMO_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class BusinessUserFactory(UserFactory):
    plan_id = "business"


class WorkspaceFactory(factory.django.DjangoModelFactory):
    """A workspace created through the service, so the owner membership exists as in production."""

    class Meta:
        model = Workspace

    owner = factory.SubFactory(BusinessUserFactory)
    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")

    @classmethod
    def _create(cls, model_class, *args, owner, name, slug, **kwargs):
        from accounts.services import workspace_create

        return workspace_create(owner=owner, name=name, slug=slug)


def add_member(workspace: Workspace, user: User | None = None, role: str = Membership.Role.MEMBER) -> User:
    from accounts.services import membership_add

    user = user or UserFactory()
    membership_add(workspace=workspace, user=user, role=role, actor=workspace.owner)
    return user
