from django.core.management.base import BaseCommand, CommandError

from accounts.models import Plan
from core.commands import domain_call, report

from ...models import UsageLimit
from ...models.limits import limit_words
from ...selectors import plan_ceilings
from ...services.limits import plan_ceiling_set


class Command(BaseCommand):
    help = ("Set PLAN's ceiling of METRIC to VALUE (requests, tokens, or US cents for money), or remove it with "
            "`none`: owners on the plan may set no limit above it, and one without a limit of that metric on their "
            "whole account is held to it. Every data-plane process applies it at once.")

    def add_arguments(self, parser):
        parser.add_argument("plan", help="Plan code.")
        parser.add_argument("metric", choices=UsageLimit.Metric.values)
        parser.add_argument("value", help="A whole number of at least 1, or `none`.")
        parser.add_argument("--json", action="store_true", help="Print the plan's ceilings as JSON.")

    def handle(self, *args, **options):
        plan = Plan.objects.filter(code=options["plan"]).first()
        if plan is None:
            codes = ", ".join(Plan.objects.values_list("code", flat=True))
            raise CommandError(f"Unknown plan {options['plan']!r}; choose one of: {codes}.")
        value = None if options["value"].lower() == "none" else options["value"]
        if value is not None and not value.isdigit():
            raise CommandError("VALUE is a whole number of at least 1, or `none`.")
        domain_call(plan_ceiling_set, plan=plan, metric=options["metric"], value=value and int(value), actor=None)
        ceilings = plan_ceilings(plan.code)
        report(self, options, {"plan": plan.code, "ceilings": {metric: c.value for metric, c in ceilings.items()}},
               f"{plan.code}: " + ("; ".join(f"at most {limit_words(m, c.value)}" for m, c in ceilings.items())
                                   or "no ceilings") + ".")
