"""Sanitizing rich text against a corpus of XSS payloads: nothing executable is left.

Every output is parsed twice, by lxml (libxml2) and by html5lib (the HTML5 parsing algorithm
that browsers follow; the copy vendored in bleach), because an attack lives in the difference
between how a sanitizer and a browser read the same bytes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from bleach._vendor import html5lib
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from lxml import html as lxml_html

from examserver.extensions import db
from examserver.question_bank.models import Question, QuestionVersion
from examserver.question_bank.richtext import ALLOWED_TAGS, sanitize_html
from tests.conftest import csrf_token

MEDIA_SRC = re.compile(r"/media/[0-9]+")
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:", "mocha:")

_EVENT = 'onclick="alert(1)" onmouseover=alert(2) ONLOAD=alert(3) onerror="alert(4)"'
_HANDLER_ON_EVERY_TAG = [
    f"<{tag} {_EVENT}>x</{tag}>" if tag not in ("br", "img") else f"<{tag} {_EVENT}>"
    for tag in sorted(ALLOWED_TAGS)
]

PAYLOADS: list[str] = [
    # script tags in many forms
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script/xss src=//evil.example/x.js></script>",
    "<script >alert(1)</script >",
    '<script type="text/javascript">alert(1)</script>',
    "<script>alert(1)",
    '<<SCRIPT>alert("XSS");//<</SCRIPT>',
    "<script>/*</script><img src=x onerror=alert(1)>*/",
    "<scr<script>ipt>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    "<p <script>alert(1)</script>>",
    "<div><p>x</div></p><script>alert(1)</script>",
    "<table><tr><td><script>alert(1)</script>",
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "<script\x00>alert(1)</script>",
    # event handlers: on every allowed tag, and in every spelling
    *_HANDLER_ON_EVERY_TAG,
    "<img src=/media/1 onerror=alert(1)>",
    '<img src="/media/1" onload="alert(1)">',
    "<IMG SRC=/media/1 OnErRoR=alert(1)>",
    "<img src=/media/1 on\x00error=alert(1)>",
    "<p/onclick=alert(1)>x</p>",
    "<p\tonclick=alert(1)>x</p>",
    '<p onclick="alert(1)\nx</p>',
    "<img src=/media/1 onerror=alert(1)",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<body onload=alert(1)>",
    "<input onfocus=alert(1) autofocus>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    # javascript:, vbscript: and data: URLs in src, href, style
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    '<a href="java\x00script:alert(1)">x</a>',
    '<img src="javascript:alert(1)">',
    '<IMG SRC="jav&#x09;ascript:alert(1);">',
    "<ImG sRc=JaVaScRiPt:alert(1)>",
    '<img src="vbscript:msgbox(1)">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<img src="data:text/html,<script>alert(1)</script>">',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="/media/1" srcset="javascript:alert(1)">',
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<p style="background-image: url(&#39;javascript:alert(1)&#39;)">x</p>',
    # images must be our own media, exactly
    '<img src="/media/1?x">',
    '<img src="/media/1#frag">',
    '<img src="/media/../admin/questions">',
    '<img src="/media/1/../../x">',
    '<img src="//evil.example/x.png">',
    '<img src="http://evil.example/media/1">',
    '<img src="https://example.com/a.png">',
    '<img src="/media/abc">',
    # SVG and MathML
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    '<svg><set attributeName="onmouseover" to="alert(1)"/></svg>',
    "<svg><foreignObject><p onclick=alert(1)>x</p></foreignObject></svg>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    '<math href="javascript:alert(1)">x</math>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style>",
    '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;/mglyph&gt;'
    '&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;">',
    # CSS: expression, url, import, in attributes and in <style>
    '<p style="width: expression(alert(1))">x</p>',
    '<span style="behavior: url(x.htc)">x</span>',
    '<p style="-moz-binding:url(//evil.example/xss.xml#xss)">x</p>',
    "<style>@import 'http://evil.example/x.css';</style>",
    '<style>body{background:url("javascript:alert(1)")}</style>',
    '<STYLE>li {list-style-image: url("javascript:alert(1)");}</STYLE><ul><li>x</li></ul>',
    '<link rel="stylesheet" href="//evil.example/x.css">',
    # entity-encoded markup stays text
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    "&#x3C;svg onload=alert(1)&#x3E;",
    # comments, CDATA, processing instructions
    "<!--<script>alert(1)</script>-->",
    "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<!-- --!><script>alert(1)</script> -->",
    '<?xml-stylesheet href="javascript:alert(1)"?>',
    # frames, objects, base, meta refresh, forms
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<title><img src=x onerror=alert(1)></title>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<template><script>alert(1)</script></template>",
    "<select><style></select><img src=x onerror=alert(1)>",
]


def _attributes(element: Any) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in element.attrib.items()]


def _check_element(tag: str, attributes: list[tuple[str, str]], allowed: frozenset[str]) -> None:
    assert tag in allowed, f"element <{tag}> is outside the allow-list"
    for name, value in attributes:
        lowered = name.lower()
        assert not lowered.startswith("on"), f"event handler {name}"
        assert lowered != "style", "style attribute"
        squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
        for scheme in DANGEROUS_SCHEMES:
            assert scheme not in squeezed, f"{scheme} in {name}={value!r}"
        if lowered == "src":
            assert MEDIA_SRC.fullmatch(value.strip()), f"src {value!r} is not our media"
        assert lowered != "href", "links are not allowed"


def assert_inert(fragment: str, allowed: frozenset[str] = ALLOWED_TAGS) -> None:
    """Fail unless both parsers find only allowed elements and harmless attributes."""
    if not fragment.strip():
        return
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iterdescendants():
        if not isinstance(element.tag, str):  # comments and processing instructions
            raise AssertionError(f"non-element node left: {etree.tostring(element)!r}")
        _check_element(element.tag.lower(), _attributes(element), allowed)
    tree = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    for element in tree.iter():
        if element is tree:
            continue
        tag = element.tag if isinstance(element.tag, str) else "<comment>"
        _check_element(tag.lower(), _attributes(element), allowed)


@pytest.mark.parametrize(
    "unsafe",
    [
        "<script>alert(1)</script>",
        "<p onclick=alert(1)>x</p>",
        '<p style="color:red">x</p>',
        '<img src="/media/1?x">',
        '<img src="https://evil.example/a.png">',
        '<a href="/x">x</a>',
        '<img src="/media/1" alt="javascript:alert(1)">',
        "<svg></svg>",
        "<p>x<!-- hidden --></p>",
    ],
)
def test_the_checker_catches_what_it_must(unsafe: str) -> None:
    with pytest.raises(AssertionError):
        assert_inert(unsafe)


def test_the_corpus_is_large_enough() -> None:
    assert len(PAYLOADS) >= 60
    assert len(set(PAYLOADS)) == len(PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payload_is_neutralized(payload: str) -> None:
    cleaned = sanitize_html(payload)
    assert_inert(cleaned)
    assert sanitize_html(cleaned) == cleaned  # stored output is stable: stored is shown


@pytest.mark.parametrize(
    "benign",
    [
        "<p><strong>粗体</strong><em>斜体</em><u>下划线</u></p>",
        "<p>H<sub>2</sub>S 与 m<sup>3</sup></p>",
        '<ul><li>一</li><li>二</li></ul><ol start="3"><li>三</li></ol>',
        '<table><thead><tr><th colspan="2">气瓶</th></tr></thead>'
        "<tbody><tr><td>氧气</td><td>5 m</td></tr></tbody></table>",
        '<p>见图：<img src="/media/12" alt="气瓶间距" width="200" height="100"></p>',
        "<p>第一行<br>第二行</p>",
        "压力 &lt; 0.5 MPa &amp; 温度 &gt; 20 ℃",
    ],
)
def test_benign_formatting_survives_unchanged(benign: str) -> None:
    assert sanitize_html(benign) == benign


def test_plain_text_with_angle_brackets_is_kept_as_text() -> None:
    assert sanitize_html("压力 < 0.5 MPa") == "压力 &lt; 0.5 MPa"
    assert sanitize_html("<b>粗</b>") == "<b>粗</b>"


# ------------------------------------------------------------------ through the editor
EDITOR_PAYLOADS = [
    "<img src=/media/1 onerror=alert(1)>",
    '<img src="/media/1?x">',
    "<scr<script>ipt>alert(1)</script>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<a href="&#106;avascript:alert(1)">链接</a>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;/mglyph&gt;'
    '&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;">',
    '<table><tr><td onclick="alert(1)">格</td></tr></table>',
]

# The candidate partial's own markup, around the sanitized content.
PARTIAL_TAGS = ALLOWED_TAGS | {"article", "header", "div", "ol", "label", "input"}


def _stored_versions(app: Flask) -> list[QuestionVersion]:
    with app.app_context():
        versions = list(db.session.query(QuestionVersion))
        for version in versions:
            db.session.expunge(version)
        return versions


def _question_article(page: str) -> str:
    match = re.search(r'<article class="exam-question.*?</article>', page, re.S)
    assert match, "no candidate view on the page"
    return match.group(0)


@pytest.mark.parametrize("payload", EDITOR_PAYLOADS, ids=range(len(EDITOR_PAYLOADS)))
def test_what_is_stored_is_inert_and_is_what_is_shown(
    app: Flask, editor: FlaskClient, make_bank, payload: str
) -> None:
    bank = make_bank("XSS")
    token = csrf_token(editor, "/admin/questions/new")
    form = {
        "csrf_token": token,
        "bank_id": str(bank),
        "type": "single",
        "stem": f"题干{payload}",
        "option_key": ["", "", ""],
        "option_text": [f"甲{payload}", "乙", f"丙{payload}"],
        "correct": ["0"],
        "difficulty": "3",
        "explanation": f"解析{payload}",
    }
    preview = editor.post("/admin/questions/preview", data=form)
    assert preview.status_code == 200
    assert_inert(_question_article(preview.get_data(as_text=True)), PARTIAL_TAGS)

    response = editor.post("/admin/questions/new", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    (version,) = _stored_versions(app)
    for text in (version.stem, version.explanation, *(o["text"] for o in version.options)):
        assert_inert(text)
        assert sanitize_html(text) == text

    with app.app_context():
        qid = db.session.query(Question.id).scalar()
    page = editor.get(f"/admin/questions/{qid}/preview").get_data(as_text=True)
    article = _question_article(page)
    assert_inert(article, PARTIAL_TAGS)
    assert f'<div class="exam-stem rich">{version.stem}</div>' in article
    for option in version.options:
        assert f'<span class="exam-option-text rich">{option["text"]}</span>' in article
    # the live preview showed exactly what was then stored
    assert f'<div class="exam-stem rich">{version.stem}</div>' in preview.get_data(as_text=True)
