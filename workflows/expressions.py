"""Argo's template tags and expressions, the subset our rendered YAML uses, evaluated the way the controller does.

- simple tags `{{workflow.parameters.x}}`, `{{inputs.parameters.x}}`, `{{item}}`, `{{tasks.t.outputs.result}}`;
- expression tags `{{=...}}` (expr-lang): string/number/bool literals, names with dots, `a['x']` indexing,
  `sprig.hasPrefix/hasSuffix/trim/lower/upper`, `asInt`, `string`, `! && || == != < <= > >= + ?:`;
- `depends` logic over task results (`A`, `A.Succeeded`, `A.Failed`, `A.Errored`, `A.Skipped`, `!`, `&&`, `||`).

Anything outside this subset raises UnsupportedExpression naming it, so run-local never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

TAG = re.compile(r"\{\{(=?)(.*?)\}\}", re.S)


class UnsupportedExpression(ValueError):
    """A tag or expression run-local cannot evaluate (or a variable that is not defined)."""


def substitute(text: str, variables: Mapping[str, Any]) -> str:
    """Replace every `{{name}}` and `{{=expr}}` in text; unknown names are an error, never left in place. A value
    that itself holds `{{` is an error too: the controller substitutes a template's text in more than one pass, and
    a later pass reads a tag inside a value substituted by an earlier one, failing with "failed to resolve" or
    putting another variable's value there (https://github.com/argoproj/argo-workflows/issues/1765); Argo has no
    escape for it (https://github.com/argoproj/argo-workflows/issues/2430)."""

    def replace(match: re.Match) -> str:
        is_expression, body = match.group(1) == "=", match.group(2).strip()
        if is_expression:
            value = _as_text(evaluate(body, variables))
        elif body not in variables:
            raise UnsupportedExpression(f"{{{{{body}}}}} is not defined here")
        else:
            value = _as_text(variables[body])
        if "{{" in value:
            raise UnsupportedExpression(f"failed to resolve: the value of {{{{{body[:60]}}}}} holds '{{{{', which "
                                        "Argo's next substitution pass would read as a tag")
        return value

    return TAG.sub(replace, text)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- expr-lang subset

_TOKEN = re.compile(r"""\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|"""
                    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||==|!=|<=|>=|[!<>?:()\[\].,+-]))""")


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise UnsupportedExpression(f"cannot read {text[position:position + 20]!r} in {{{{={text}}}}}")
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        out.append((kind, value))
    return out


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sprig.hasPrefix": lambda prefix, text: str(text).startswith(str(prefix)),
    "sprig.hasSuffix": lambda suffix, text: str(text).endswith(str(suffix)),
    "sprig.trim": lambda text: str(text).strip(),
    "sprig.lower": lambda text: str(text).lower(),
    "sprig.upper": lambda text: str(text).upper(),
    "asInt": lambda value: int(str(value)),
    "string": lambda value: _as_text(value),
}


class _Parser:
    def __init__(self, text: str, variables: Mapping[str, Any]):
        self.text, self.tokens, self.index, self.variables = text, _tokens(text), 0, variables

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, Any]:
        token = self.peek()
        if token is None or (op is not None and token != ("op", op)):
            raise UnsupportedExpression(f"expected {op or 'more'} in {{{{={self.text}}}}}")
        self.index += 1
        return token

    def at(self, op: str) -> bool:
        return self.peek() == ("op", op)

    def parse(self) -> Any:
        value = self.ternary()
        if self.peek() is not None:
            raise UnsupportedExpression(f"unexpected {self.peek()[1]!r} in {{{{={self.text}}}}}")
        return value

    def ternary(self) -> Any:
        condition = self.binary(0)
        if not self.at("?"):
            return condition
        self.take("?")
        when_true = self.ternary()
        self.take(":")
        when_false = self.ternary()
        return when_true if condition else when_false

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"))

    def binary(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() and self.peek()[0] == "op" and self.peek()[1] in self._LEVELS[level]:
            op = self.take()[1]
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> Any:
        if self.at("!"):
            self.take("!")
            return not self.unary()
        if self.at("-"):
            self.take("-")
            return -self.unary()
        return self.primary()

    def primary(self) -> Any:
        kind, value = self.take()
        if kind in ("number", "string"):
            return value
        if (kind, value) == ("op", "("):
            inner = self.ternary()
            self.take(")")
            return inner
        if kind != "name":
            raise UnsupportedExpression(f"unexpected {value!r} in {{{{={self.text}}}}}")
        if value in ("true", "false"):
            return value == "true"
        name = value
        while self.at(".") or self.at("["):
            if self.at("."):
                self.take(".")
                name += "." + self.take()[1]
            else:
                self.take("[")
                key = self.ternary()
                self.take("]")
                name += f".{key}"
        if self.at("("):
            return self.call(name)
        if name not in self.variables:
            raise UnsupportedExpression(f"{name} is not defined in {{{{={self.text}}}}}")
        return self.variables[name]

    def call(self, name: str) -> Any:
        if name not in _FUNCTIONS:
            raise UnsupportedExpression(f"function {name}() is not supported by run-local")
        self.take("(")
        arguments = []
        while not self.at(")"):
            arguments.append(self.ternary())
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return _FUNCTIONS[name](*arguments)


def _apply(op: str, left: Any, right: Any) -> Any:
    if op == "||":
        return bool(left) or bool(right)
    if op == "&&":
        return bool(left) and bool(right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "+":
        return left + right if not isinstance(left, str) else left + str(right)
    if op == "-":
        return left - right
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def evaluate(expression: str, variables: Mapping[str, Any]) -> Any:
    return _Parser(expression, variables).parse()


# ---------------------------------------------------------------- depends

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned")
_DEPENDS_TOKEN = re.compile(r"\s*(&&|\|\||!|\(|\)|[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z]+)?)")


def depends_tasks(expression: str) -> set[str]:
    """The task names a depends expression mentions."""
    return {token.split(".")[0] for token in _depends_tokens(expression) if token not in ("&&", "||", "!", "(", ")")}


def _depends_tokens(expression: str) -> list[str]:
    tokens, position = [], 0
    text = expression.strip()
    while position < len(text):
        match = _DEPENDS_TOKEN.match(text, position)
        if not match:
            raise UnsupportedExpression(f"cannot read depends {expression!r} at {text[position:position + 20]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def depends_satisfied(expression: str, phases: Mapping[str, str]) -> bool:
    """Evaluate a depends expression; `A` alone means A.Succeeded || A.Skipped || A.Daemoned (Argo's rule)."""
    variables: dict[str, Any] = {}
    rewritten = []
    for token in _depends_tokens(expression):
        if token in ("&&", "||", "!", "(", ")"):
            rewritten.append(token)
            continue
        task, _, result = token.partition(".")
        if task not in phases:
            raise UnsupportedExpression(f"depends {expression!r} names task {task!r}, which is not in the DAG")
        if result and result not in RESULTS:
            raise UnsupportedExpression(f"depends {expression!r}: {result!r} is not a task result")
        key = f"v{len(variables)}"
        if result:
            variables[key] = phases[task] == result
        else:
            variables[key] = phases[task] in ("Succeeded", "Skipped", "Daemoned")
        rewritten.append(key)
    return bool(evaluate(" ".join(rewritten), variables))
