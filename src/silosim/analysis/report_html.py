"""The sweep report as one self-contained HTML page, from the same Markdown the report writes.

Reads the few block forms :mod:`silosim.analysis.report` writes (``#``
headings, paragraphs, ``-`` lists, tables, images alone on a line) and
inline code and bold, so the page has the Markdown's sections in the same
order. Plots are embedded as base64 ``data:`` URIs and the style sheet is
inline: the page makes no request outside itself (no script, font or
remote image).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)$")
CELL = re.compile(r"(?<!\\)\|")  # a cell edge: a pipe not escaped
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  max-width: 68rem; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.55; color: #1f2328; }
h1 { font-size: 1.8rem; margin-bottom: 0.5rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; }
h1 + h2 { margin-top: 1rem; }
section.conclusion p:first-of-type { font-size: 1.1rem; }
section.warnings li { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 0.3rem 0.6rem;
  margin: 0.3rem 0; list-style: none; }
section.warnings ul { padding-left: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em;
  background: #f6f8fa; padding: 0.05rem 0.25rem; border-radius: 3px; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
img { max-width: 100%; height: auto; display: block; margin: 1rem 0; }
"""


def render(text: str, folder: Path, title: str = "Sweep report") -> str:
    """The page of a report's Markdown ``text``; images are read from ``folder`` and embedded.

    Args:
        text: the report's Markdown, as :func:`silosim.analysis.report.markdown` writes it.
        folder: where the images it links to are.
        title: the page's title.

    Returns:
        The HTML document.
    """
    body, section = [], None
    blocks = _blocks(text.split("\n"))
    for kind, lines in blocks:
        if kind == "h2":
            if section:
                body.append("</section>")
            section = _slug(lines[0])
            body.append(f'<section class="{section}">')
            body.append(f"<h2>{_inline(lines[0])}</h2>")
        elif kind == "h1":
            body.append(f"<h1>{_inline(lines[0])}</h1>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>")
        elif kind == "table":
            body.append(_table(lines))
        elif kind == "image":
            body.append(_image(lines[0], folder))
        else:
            body.append(f"<p>{_inline(' '.join(lines))}</p>")
    if section:
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The Markdown's blocks in order: (kind, lines), kinds h1, h2, list, table, image, paragraph."""
    blocks: list[tuple[str, list[str]]] = []
    for line in lines:
        kind = (
            "h1"
            if line.startswith("# ")
            else "h2"
            if line.startswith("## ")
            else "list"
            if line.startswith("- ")
            else "table"
            if line.startswith("|")
            else "image"
            if IMAGE.match(line.strip())
            else "blank"
            if not line.strip()
            else "paragraph"
        )
        if kind in ("h1", "h2"):
            blocks.append((kind, [line.split(" ", 1)[1]]))
        elif kind == "image":
            blocks.append((kind, [line.strip()]))
        elif kind == "blank":
            blocks.append(("blank", []))
        elif blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    return [b for b in blocks if b[0] != "blank"]


def _inline(text: str) -> str:
    """Escape, then ``code`` and **bold**."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(part).replace("\\|", "|")))
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in CELL.split(line.strip())[1:-1]]


def _table(lines: list[str]) -> str:
    header, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    head = "".join(f"<th>{_inline(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(line: str, folder: Path) -> str:
    """An image embedded as a data URI; only a PNG file of the folder, else its name as text."""
    match = IMAGE.match(line)
    alt, name = match["alt"], match["src"]
    path = folder / name
    if "/" in name or not name.endswith(".png") or not path.is_file():
        return f"<p>[{html.escape(alt)}: {html.escape(name)}]</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-").split("-")[0] or "section"
