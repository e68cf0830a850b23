"""Run the provider simulator in the foreground: `python manage.py run_provider_simulator [--port 8100]`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from byok.simulator import DEMO_ACCOUNTS_PATH, AccountsError, SimulatorServer


class Command(BaseCommand):
    help = "Serve simulated AWS Bedrock/STS, Anthropic and OpenAI(-compatible) APIs on loopback until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument(
            "--accounts", type=Path, default=DEMO_ACCOUNTS_PATH, help="accounts JSON file (default: demo)"
        )
        parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")

    def handle(self, *args: Any, host: str, port: int, accounts: Path, tls: bool, **options: Any) -> None:
        logging.getLogger("byok.simulator").setLevel(logging.INFO)
        try:
            server = SimulatorServer(accounts, host=host, port=port, tls=tls)
        except (OSError, AccountsError) as error:
            raise CommandError(f"Cannot start the provider simulator: {error}") from error
        self.stdout.write(f"Provider simulator on {server.url} with accounts from {accounts}")
        for account in server.state.accounts.all():
            self.stdout.write(f"  {account.name:<30} {account.provider:<16} {account.behaviour}")
        self.stdout.write("Point byok at it with:")
        for name, value in server.env().items():
            self.stdout.write(f"  export {name}={value}")
        self.stdout.write(f"Vertex service-account key files (this server's token_uri): "
                          f"GET {server.url}/_simulator/vertex/<account name>.json")
        if server.ca_file:
            self.stdout.write(f"  (trust the certificate {server.ca_file})")
        self.stdout.write(
            "Control: GET /_simulator/stats, POST /_simulator/reset, POST /_simulator/accounts. Ctrl-C to stop."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
