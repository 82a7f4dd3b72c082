"""Generate the API reference: one page per module of src/, for mkdocs-gen-files.

MkDocs runs this at every build (``plugins: gen-files`` in mkdocs.yml), so a
module added, moved or removed under src/sae_pipelines/ changes the reference
with no edit to the docs. Each page holds ``::: <module>``, which mkdocstrings
renders from the module's docstrings; ``reference/SUMMARY.md`` is the section's
navigation, read by mkdocs-literate-nav. This is mkdocstrings' recipe
"Automatic code reference pages".
"""

from pathlib import Path

import mkdocs_gen_files

SOURCE = Path("src")
# Run as ``python -m``, never imported: the reference would document nothing.
SKIPPED = {"__main__"}

navigation = mkdocs_gen_files.Nav()

for path in sorted(SOURCE.rglob("*.py")):
    module_path = path.relative_to(SOURCE).with_suffix("")
    doc_path = path.relative_to(SOURCE).with_suffix(".md")
    parts = tuple(module_path.parts)
    if parts[-1] in SKIPPED:
        continue
    if parts[-1] == "__init__":
        parts = parts[:-1]
        doc_path = doc_path.with_name("index.md")
    navigation[parts] = doc_path.as_posix()
    with mkdocs_gen_files.open(Path("reference", doc_path), "w") as page:
        page.write(f"::: {'.'.join(parts)}\n")
    mkdocs_gen_files.set_edit_path(Path("reference", doc_path), path)

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as summary:
    summary.writelines(navigation.build_literate_nav())
