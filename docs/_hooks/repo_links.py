"""MkDocs hooks for the numbann site (see ``hooks:`` in mkdocs.yml).

1. Links from a page to a file of the repository outside ``docs/`` (for
   example ``../benchmarks/RESULTS.md`` or ``../examples/ch6_optimizers.py``)
   work when the Markdown is read on GitHub, but the site does not contain
   those files. They are rewritten to the file on GitHub (``repo_url``), so the
   same source serves both. Whether the targets exist is checked by
   ``tests/test_docs.py``, not here.
2. The docstrings use Sphinx roles (:func:`fit`), which Markdown renders as
   ``:func:<code>fit</code>``; the role prefix is dropped (and a leading ``~``
   shortens the name to its last part, as in Sphinx).
"""

import posixpath
import re
from pathlib import Path

_LINK = re.compile(r"(?<!\!)\]\((?P<target>[^)\s]+)\)")
_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):<code>(?P<name>~?[^<]*)</code>")
_BRANCH = "main"


def _repo_path(page_src, target, docs_dir, root):
    """The repository path *target* points to from *page_src*, if it leaves docs/."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
        return None
    path, _, anchor = target.partition("#")
    if not path:
        return None
    resolved = (docs_dir / posixpath.dirname(page_src) / path).resolve()
    try:
        resolved.relative_to(docs_dir)
        return None  # inside docs/: MkDocs resolves and validates it
    except ValueError:
        pass
    try:
        rel = resolved.relative_to(root).as_posix()
    except ValueError:
        return None
    return rel, anchor


def on_page_markdown(markdown, page, config, files):
    docs_dir = Path(config["docs_dir"]).resolve()
    root = Path(config["config_file_path"]).resolve().parent
    repo = config.get("repo_url") or ""
    if not repo:
        return markdown

    def fix(match):
        found = _repo_path(page.file.src_uri, match.group("target"), docs_dir, root)
        if found is None:
            return match.group(0)
        rel, anchor = found
        kind = "tree" if (root / rel).is_dir() else "blob"
        url = f"{repo.rstrip('/')}/{kind}/{_BRANCH}/{rel}" + (f"#{anchor}" if anchor else "")
        return f"]({url})"

    return _LINK.sub(fix, markdown)


def on_page_content(html, page, config, files):
    def strip(match):
        name = match.group("name")
        if name.startswith("~"):
            name = name[1:].rsplit(".", 1)[-1]
        return f"<code>{name}</code>"

    return _ROLE.sub(strip, html)
