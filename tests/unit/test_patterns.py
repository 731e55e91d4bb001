"""Each schema pattern written as a function agrees with the regular expression it replaces
(Python's ``re``, with ``$`` as ``\\Z``: the whole string, no trailing newline), and the
parser, which uses them, imports no ``re``."""
from __future__ import annotations

import random
import re

import pytest

from pyruntime.model.patterns import REGEX_PATTERNS

ALPHABET = "0123456789.-+_:, \nabcmprwuzKMGBRLIMTAXZ\u0661"
EDGES = ["", "\n", "1.2.3", "1.2.3\n", "1.2.3-rc.1+build-7", "1.2.3+", "1.2.3-", "01.2.3", "1.2", "1.2.3.4",
         "1.2.3-a+b+c", "\u0661.2.3", "MB:", "MB:0=20;1=70", "MB:x\ny", "2MB", "0MB", "1GB", "10KB", "1TB",
         "a", "u", "ab", "rwm", "rrw", "rx", "c", "p", "cb", "RLIMIT_", "RLIMIT_NOFILE", "RLIMIT_nofile",
         "0-3,5", "0, 1 - 2", "0;1"]


def corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    return EDGES + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))) for _ in range(20000)]


@pytest.mark.parametrize("source", sorted(REGEX_PATTERNS))
def test_function_matches_the_regex(source):
    regex = re.compile(source[:-1] + "\\Z" if source.endswith("$") else source)
    # strings shaped like the pattern's own text reach its accepting paths often
    pieces = re.findall(r"[A-Za-z_:]+|.", source.replace("\\", ""))
    rng = random.Random(source)
    shaped = ["".join(rng.choice(pieces + list("0123456789")) for _ in range(rng.randint(0, 10)))
              for _ in range(20000)]
    pattern = REGEX_PATTERNS[source]
    for text in corpus(len(source)) + shaped:
        assert bool(pattern.search(text)) == bool(regex.search(text)), (source, text)


def test_the_parser_does_not_import_re():
    from test_structure import imports_after
    loaded = imports_after("import pyruntime.model.parse, pyruntime.model.validate")
    assert "pyruntime.model.patterns" in loaded and "re" not in loaded


def test_every_pattern_of_the_schema_has_its_function():
    import json
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "spec", "config.schema.json")) as f:
        text = f.read()
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(json.loads(text))
    assert found and found == set(REGEX_PATTERNS)


def test_the_re_switch_gives_the_same_answers():
    """PYRUNTIME_PATTERNS=re runs the standard module in place of the functions, for a whole
    command; on documents putting every edge string in every patterned field, the parser's
    answers are the same either way."""
    import json
    import subprocess
    import sys
    script = """
import json, sys
from pyruntime.cli.verb_spec import default_spec
from pyruntime.errors import ConfigError
from pyruntime.model import parse, patterns
answers = [type(next(iter(patterns.REGEX_PATTERNS.values()))).__module__]
for text in json.loads(sys.argv[1]):
    doc = default_spec()
    doc["ociVersion"] = text
    doc["process"]["rlimits"] = [{"type": text, "soft": 1, "hard": 1}]
    doc["process"]["execCPUAffinity"] = {"initial": text}
    doc["linux"]["devices"] = [{"type": text, "path": "/dev/x"}]
    doc["linux"]["resources"] = {"devices": [{"allow": True, "type": text, "access": text}],
                                 "hugepageLimits": [{"pageSize": text, "limit": 1}]}
    doc["linux"]["intelRdt"] = {"memBwSchema": text}
    try:
        parse.spec(doc)
        answers.append([])
    except ConfigError as exc:
        answers.append(exc.problems)
print(json.dumps(answers))
"""
    texts = json.dumps(EDGES + corpus(7)[-300:])
    runs = {}
    for mode in ("functions", "re"):
        env = {"PATH": "/usr/bin:/bin", **({"PYRUNTIME_PATTERNS": "re"} if mode == "re" else {})}
        out = subprocess.run([sys.executable, "-c", script, texts], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        runs[mode] = json.loads(out.stdout)
    assert (runs["functions"][0], runs["re"][0]) == ("pyruntime.model.patterns", "re")
    assert runs["functions"][1:] == runs["re"][1:]
    # each text passes some patterns and fails others: the answers differ from text to text
    assert len({len(problems) for problems in runs["functions"][1:]}) > 3
