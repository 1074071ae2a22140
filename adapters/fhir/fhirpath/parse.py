"""A FHIRPath (N1, normative subset) tokenizer and precedence-climbing parser.

`parse(text)` returns a small frozen AST. Syntax errors raise `FhirPathSyntaxError` naming the
expression and the character position. The parser accepts the whole FHIRPath grammar of
terms and operators; what the SQL compiler supports is decided there, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from hyperfed.adapters.fhir.errors import FhirPathSyntaxError

__all__ = [
    "Func",
    "Index",
    "Literal",
    "Member",
    "Node",
    "Op",
    "TypeOp",
    "Unary",
    "Var",
    "parse",
]


@dataclass(frozen=True)
class Literal:
    value: object
    kind: str  # string | integer | decimal | boolean | date | datetime | time | empty


@dataclass(frozen=True)
class Var:
    """`%name` (external constant) when `external`, else `$this`, `$index`, `$total`."""

    name: str
    external: bool


@dataclass(frozen=True)
class Member:
    base: Node | None  # None: the focus
    name: str


@dataclass(frozen=True)
class Func:
    base: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Index:
    base: Node
    index: Node


@dataclass(frozen=True)
class Op:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary:
    op: str  # '+' | '-'
    operand: Node


@dataclass(frozen=True)
class TypeOp:
    op: str  # 'is' | 'as'
    operand: Node
    type_name: str


Node = Union[Literal, Var, Member, Func, Index, Op, Unary, TypeOp]  # noqa: UP007

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<datetime>@\d{4}(?:-\d{2}(?:-\d{2})?)?T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?
        (?:Z|[+-]\d{2}:\d{2})?)
  | (?P<date>@\d{4}(?:-\d{2}(?:-\d{2})?)?)
  | (?P<time>@T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<delimited>`(?:[^`\\]|\\.)*`)
  | (?P<ext>%(?:[A-Za-z_][A-Za-z0-9_]*|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`))
  | (?P<var>\$(?:this|index|total))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|!~|[-+*/&|=~<>.,()\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)

# binary operators by precedence level (lowest first)
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "~", "!=", "!~"),
    ("<", ">", "<=", ">="),
    ("|",),
    ("is", "as"),
    ("+", "-", "&"),
    ("*", "/", "div", "mod"),
)
_KEYWORD_OPS = {"implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod"}
_ESCAPES = {"'": "'", '"': '"', "`": "`", "r": "\r", "n": "\n", "t": "\t", "f": "\f", "\\": "\\"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 6 <= len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokens(text: str) -> list[_Tok]:
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FhirPathSyntaxError("", text, f"unexpected character at {pos}: {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def fail(self, message: str) -> FhirPathSyntaxError:
        tok = self.toks[self.i]
        where = "at the end" if tok.kind == "end" else f"at {tok.pos} ({tok.text!r})"
        return FhirPathSyntaxError("", self.text, f"{message} {where}")

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        tok = self.peek()
        if tok.kind in ("op", "ident") and tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise self.fail(f"expected {text!r}")

    def binary_op(self, level: int) -> str | None:
        tok = self.peek()
        if tok.kind == "op" and tok.text in _LEVELS[level]:
            return tok.text
        if tok.kind == "ident" and tok.text in _KEYWORD_OPS and tok.text in _LEVELS[level]:
            return tok.text
        return None

    def expression(self, level: int = 0) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.expression(level + 1)
        while (op := self.binary_op(level)) is not None:
            self.take()
            if op in ("is", "as"):
                left = TypeOp(op, left, self.type_specifier())
            else:
                left = Op(op, left, self.expression(level + 1))
        return left

    def type_specifier(self) -> str:
        parts = [self.identifier()]
        while self.accept("."):
            parts.append(self.identifier())
        return ".".join(parts)

    def identifier(self) -> str:
        tok = self.take()
        if tok.kind == "ident":
            return tok.text
        if tok.kind == "delimited":
            return _unescape(tok.text[1:-1])
        self.i -= 1
        raise self.fail("expected an identifier")

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("+", "-"):
            self.take()
            return Unary(tok.text, self.unary())
        return self.postfix(self.term())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.accept("."):
                node = self.invocation(node)
            elif self.accept("["):
                index = self.expression()
                self.expect("]")
                node = Index(node, index)
            else:
                return node

    def invocation(self, base: Node | None) -> Node:
        tok = self.peek()
        if tok.kind == "var" and base is None:
            self.take()
            return Var(tok.text[1:], external=False)
        name = self.identifier()
        if self.accept("("):
            args: list[Node] = []
            if not self.accept(")"):
                args.append(self.expression())
                while self.accept(","):
                    args.append(self.expression())
                self.expect(")")
            return Func(base, name, tuple(args))
        return Member(base, name)

    def term(self) -> Node:
        tok = self.peek()
        if tok.kind == "number":
            self.take()
            if "." in tok.text:
                return Literal(tok.text, "decimal")
            return Literal(int(tok.text), "integer")
        if tok.kind == "string":
            self.take()
            return Literal(_unescape(tok.text[1:-1]), "string")
        if tok.kind in ("date", "datetime", "time"):
            self.take()
            text = tok.text[1:]
            return Literal(text[1:] if tok.kind == "time" else text, tok.kind)
        if tok.kind == "ext":
            self.take()
            name = tok.text[1:]
            if name[:1] in ("'", "`"):
                name = _unescape(name[1:-1])
            return Var(name, external=True)
        if tok.kind == "ident" and tok.text in ("true", "false"):
            self.take()
            return Literal(tok.text == "true", "boolean")
        if tok.kind == "op" and tok.text == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.text == "{":
            self.take()
            self.expect("}")
            return Literal(None, "empty")
        if tok.kind in ("ident", "delimited", "var"):
            return self.invocation(None)
        raise self.fail("expected a term")


def parse(text: str) -> Node:
    """Parse one FHIRPath expression."""
    if not isinstance(text, str) or not text.strip():
        raise FhirPathSyntaxError("", str(text), "empty expression")
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek().kind != "end":
        raise parser.fail("unexpected token")
    return node
