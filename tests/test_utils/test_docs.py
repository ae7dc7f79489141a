"""The README and docs/ pages: every relative link reaches an existing file
and heading, every docs page is linked from the README, and the README's
contents list names each of its sections."""

import glob
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
README = osp.join(ROOT, 'README.md')
PAGES = sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))
LINK = re.compile(r'\]\(([^)\s]+)\)')


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def without_code(text):
    return re.sub(r'```.*?```', '', text, flags=re.DOTALL)


def headings(text):
    return re.findall(r'^#+ (.+)$', without_code(text), flags=re.MULTILINE)


def anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped,
    spaces to hyphens."""
    text = heading.strip().lower().replace('`', '')
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def test_relative_links_reach_files_and_headings():
    broken = []
    for path in [README] + PAGES:
        for target in LINK.findall(without_code(read(path))):
            if re.match(r'[a-z]+://', target):
                continue
            file_part, _, fragment = target.partition('#')
            linked = (
                osp.normpath(osp.join(osp.dirname(path), file_part))
                if file_part
                else path
            )
            if not osp.exists(linked):
                broken.append(f'{osp.relpath(path, ROOT)}: {target}')
            elif fragment and linked.endswith('.md'):
                if fragment not in {anchor(h) for h in headings(read(linked))}:
                    broken.append(f'{osp.relpath(path, ROOT)}: {target}')
    assert not broken, broken


def test_readme_links_every_docs_page():
    readme = read(README)
    missing = [
        osp.basename(page)
        for page in PAGES
        if f'](docs/{osp.basename(page)}' not in readme
    ]
    assert not missing


def test_readme_contents_lists_every_section():
    readme = read(README)
    sections = re.findall(r'^## (.+)$', without_code(readme), re.MULTILINE)
    start = readme.index('## Contents')
    contents = readme[start : readme.index('\n## ', start + 1)]
    listed = re.findall(r'\(#([^)]+)\)', contents)
    assert [anchor(s) for s in sections if s != 'Contents'] == listed


def test_readme_stays_short():
    assert len(read(README).splitlines()) <= 200
