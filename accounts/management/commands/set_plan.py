from django.core.management.base import BaseCommand

from core.commands import domain_call, get_user, report

from ...services import user_plan_change


class Command(BaseCommand):
    help = "Put USER on PLAN (free, pro, business, enterprise). BYOK follows the plan at once."

    def add_arguments(self, parser):
        parser.add_argument("user", help="Username.")
        parser.add_argument("plan", help="Plan code.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        user = get_user(options["user"])
        previous = user.plan_id
        user = domain_call(user_plan_change, user=user, plan_code=options["plan"], actor=None)
        report(
            self,
            options,
            {"user": user.username, "plan": user.plan_id, "previous_plan": previous, "byok_allowed": user.plan.byok_allowed},
            f"{user.username}: {previous} -> {user.plan_id} (BYOK {'allowed' if user.plan.byok_allowed else 'not allowed'}).",
        )
