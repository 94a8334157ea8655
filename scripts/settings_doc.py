"""Print the settings table (Markdown) or .env.example from common.infra.settings.Settings.

python scripts/settings_doc.py table    # for README.md
python scripts/settings_doc.py env      # .env.example
python scripts/settings_doc.py readme   # rewrite both in place
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.infra.settings import PROJECT_ROOT, Settings


def _default(field) -> str:
    value = field.default
    if value is None:
        return ""
    if isinstance(value, Path):
        return str(value).replace(str(PROJECT_ROOT), ".")
    return str(getattr(value, "value", value))


def _is_secret(field) -> bool:
    return "SecretStr" in str(field.annotation)


def rows():
    for name, field in Settings.model_fields.items():
        yield f"PP_{name.upper()}", _default(field), field.description or "", _is_secret(field)


def table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for env, default, doc, secret in rows():
        shown = "(secret, no default)" if secret else (f"`{default}`" if default else "")
        lines.append(f"| `{env}` | {shown} | {doc.replace('|', '/')} |")
    return "\n".join(lines)


def env_example() -> str:
    out = ["# persona-pipeline settings (copy to .env). Secrets belong in the environment, never in git."]
    for env, default, doc, secret in rows():
        out.append(f"# {doc}")
        out.append(f"{env}=" if secret else f"# {env}={default}")
    out.append("# Flower basic auth for docker compose (user:password)")
    out.append("FLOWER_BASIC_AUTH=")
    return "\n".join(out) + "\n"


def rewrite_readme(readme: Path = PROJECT_ROOT / "README.md") -> None:
    text = readme.read_text()
    start = text.index("<!-- settings-table:start")
    start = text.index("\n", start) + 1
    end = text.index("<!-- settings-table:end -->")
    readme.write_text(text[:start] + table() + "\n" + text[end:])


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "env"
    if command == "readme":
        rewrite_readme()
        (PROJECT_ROOT / ".env.example").write_text(env_example())
    else:
        print(table() if command == "table" else env_example(), end="")
