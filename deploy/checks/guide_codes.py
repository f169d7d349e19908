"""Every error code the services define (services/*/src/errors.ts) is
explained in docs/operator-guide.md, so a new code cannot ship without its
meaning and fix.

  python3 guide_codes.py
"""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[2]
guide = (root / "docs/operator-guide.md").read_text()
missing = []
for errors in sorted(root.glob("services/*/src/errors.ts")):
    for code in sorted(set(re.findall(r"createError(?:<[^>]*>)?\(\s*'([A-Z][A-Z0-9_]+)'", errors.read_text()))):
        if f"`{code}`" not in guide:
            missing.append(f"{code} ({errors.relative_to(root)})")
if missing:
    print("docs/operator-guide.md does not explain:\n  " + "\n  ".join(missing))
    sys.exit(1)
