"""Renders the cases below with Jinja2 set up as Hugging Face transformers sets it up for chat templates
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, tojson via json.dumps with ensure_ascii=False,
raise_exception, strftime_now) and writes golden.json, which ChatTemplateGoldenTests compares SinkLab's renderer with.

    python3 tests/SinkLab.Tests/Templates/Golden/make_golden.py      # needs jinja2 (tested with 3.1.6)

A case whose rendering raises is recorded with "error": true; SinkLab must raise a TemplateException for it.
"""
import json, os, sys
from datetime import datetime
import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

CLOCK = datetime(2024, 7, 26, 9, 5, 3)

def strftime_now(fmt):
    return CLOCK.strftime(fmt)

class Generation(jinja2.ext.Extension):
    """transformers' AssistantTracker without the tracking: {% generation %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": " Hello! "}, {"role": "user", "content": "Bye"}]

CASES = [
    # whitespace control, trim_blocks and lstrip_blocks
    ("ws_trim_blocks", "{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\n", {}),
    ("ws_minus", "a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("ws_lstrip_keeps_text", "x\n    {% if true %}y{% endif %}\n  z", {}),
    ("ws_comment", "a {# note #} b\n{#- trimmed -#}\n c", {}),
    ("ws_plus_disables_lstrip", "x\n    {%+ if true %}y{% endif %}", {}),
    ("ws_raw", "{% raw %}{{ not evaluated }}{% endraw %}!", {}),
    ("ws_trailing_newline", "line\n", {}),
    # loops
    ("loop_vars", "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}", {}),
    ("loop_prev_next", "{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }},{% endfor %}", {}),
    ("loop_cycle", "{% for x in range(5) %}{{ loop.cycle('a','b') }}{% endfor %}", {}),
    ("loop_filter_else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in range(6) if x is even %}{{ x }}{% endfor %}", {}),
    ("loop_tuple_items", "{% for k, v in {'a': 1, 'b': [2, 3]}.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("loop_dict_iter", "{% for k in {'z': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    ("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_reversed_slice", "{% for m in messages[::-1] %}{{ m.role[0] }}{% endfor %}|{{ messages[1:3] | map(attribute='role') | join(',') }}", {}),
    ("loop_nested_loop_var", "{% for a in [1,2] %}{% for b in [3,4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{% endfor %}", {}),
    ("loop_scoping", "{% set x = 1 %}{% for i in range(3) %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}", {}),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }}{{ ns.s }}", {}),
    # set
    ("set_block", "{% set greeting %}Hello {{ messages[1].content }}{% endset %}[{{ greeting }}]", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a + b }}", {}),
    ("set_reassign_messages", "{% set messages = messages[1:] %}{{ messages | length }}{{ messages[0].role }}", {}),
    # expressions
    ("expr_arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }} {{ 1.5 + 1 }} {{ 4 / 2 }}", {}),
    ("expr_compare", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' == 'a' }} {{ 1 != 1.0 }} {{ [1,2] == [1,2] }} {{ 'b' > 'a' }} {{ none == none }}", {}),
    ("expr_in", "{{ 'ell' in 'hello' }} {{ 2 in [1,2] }} {{ 'role' in messages[0] }} {{ 'x' not in 'abc' }} {{ 'tool_calls' in messages[0] }}", {}),
    ("expr_logic", "{{ true and 'x' }} {{ false or 'y' }} {{ not none }} {{ '' or 'empty' }} {{ 0 and 1 }} {{ [] or [1] }}", {}),
    ("expr_ternary", "{{ 'yes' if messages else 'no' }} {{ 'yes' if [] else 'no' }} {{ 'a' if false }}!", {}),
    ("expr_concat", "{{ 'a' ~ 1 ~ none ~ true }} {{ 'x' * 3 }} {{ [1] + [2] }} {{ 3 * 'ab' }}", {}),
    ("expr_literals", "{{ [1, 'a', none, true, 1.5, {'k': [1]}] }} {{ {'a': 1} }} {{ (1, 2) }} {{ 'it''s' if false else \"q'\" }}", {}),
    ("expr_string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e' }}|{{ \"x\\\"y\" }}|{{ '\\u00e9' }}", {}),
    ("expr_index_negative", "{{ messages[-1].content }} {{ 'hello'[1] }} {{ 'hello'[-2:] }} {{ 'hello'[::2] }} {{ [1,2,3][5] is defined }}", {}),
    ("expr_attr_vs_item", "{{ messages[0]['role'] }} {{ messages[0].role }} {{ messages[0].missing is defined }} {{ messages[0].get('role') }} {{ messages[0].get('x', 'dflt') }}", {}),
    ("expr_print_types", "{{ 1.0 }} {{ 1e3 }} {{ 0.1 + 0.2 }} {{ true }} {{ none }} {{ 10000000000000000 }} {{ 1/3 }} {{ -0.0 }} {{ 1e20 }} {{ 1.5e-7 }}", {}),
    # string methods
    ("str_methods", "{{ ' Hi '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '\\n\\nhi'.lstrip('\\n') }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b  c'.split() }}|{{ 'a-b-c'.rsplit('-', 1) }}|{{ 'Hello'.upper() }}{{ 'Hello'.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aXbX'.replace('X', '') }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'abc'.find('c') }}", {}),
    ("str_split_maxsplit", "{{ 'a b c d'.split(' ', 2) }}|{{ '</think>x</think>y'.split('</think>')[-1] }}|{{ 'abc'.split('abc') }}", {}),
    ("str_format_and_join", "{{ '-'.join(['a', 'b']) }}|{{ '%s is %d' % ('x', 3) }}|{{ '{} and {}'.format(1, 'b') }}", {}),
    # filters
    ("filter_basic", "{{ ' x ' | trim }}|{{ 'abc' | upper }}|{{ [3,1,2] | sort }}|{{ [3,1,2] | sort(reverse=true) | first }}|{{ [1,2,3] | last }}|{{ [1,2] | length }}|{{ 'abc' | length }}|{{ [1,2,3] | sum }}|{{ [1,2,3] | reverse | list }}|{{ 'abc' | reverse }}", {}),
    ("filter_join_map_select", "{{ messages | map(attribute='role') | join(', ') }}|{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ messages | rejectattr('role', 'eq', 'user') | list | length }}|{{ [1,2,3,4] | select('odd') | list }}|{{ ['a','b'] | reject('equalto', 'a') | list }}", {}),
    ("filter_default", "{{ undefined_var | default('d') }}|{{ none | default('d') }}|{{ none | default('d', true) }}|{{ '' | default('d', true) }}|{{ x | d('alias') }}", {}),
    ("filter_tojson", "{{ messages[0] | tojson }}|{{ {'b': 1, 'a': [1.5, none, true, 'é\"\\n']} | tojson }}|{{ [1, {'k': 'v'}] | tojson(indent=2) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}", {}),
    ("filter_string_int_float", "{{ 42 | string }}{{ '7' | int + 1 }}{{ '2.5' | float }}{{ 'x' | int }}{{ 3.9 | int }}{{ true | int }}|{{ [1,2] | string }}", {}),
    ("filter_items_dictsort", "{% for k, v in {'b': 2, 'a': 1} | items %}{{ k }}{{ v }}{% endfor %}|{% for k, v in {'b': 2, 'a': 1} | dictsort %}{{ k }}{{ v }}{% endfor %}", {}),
    ("filter_misc", "{{ 'a\\nb' | indent(2) }}|{{ 'hello world' | replace('o', '0') }}|{{ 'hi' | center(6) }}|{{ [1,[2,3]] | first }}|{{ 'Hi There' | lower | title }}|{{ -3 | abs }}|{{ 2.567 | round(1) }}|{{ [3,1] | max }}{{ [3,1] | min }}|{{ [1,1,2] | unique | list }}|{{ 'abc' | list }}|{{ 'a b' | wordcount }}|{{ '<b>' | e }}", {}),
    ("filter_capitalize_truncate", "{{ 'hELLO wORLD' | capitalize }}|{{ 'x' | count }}|{{ ['a', 'b'] | batch(1) | list }}", {}),
    # tests
    ("tests", "{{ 1 is number }}{{ 'a' is string }}{{ [1] is iterable }}{{ 'a' is iterable }}{{ {} is mapping }}{{ [] is mapping }}{{ none is none }}{{ x is undefined }}{{ 3 is odd }}{{ 4 is even }}{{ 6 is divisibleby 3 }}{{ true is boolean }}{{ 1 is integer }}{{ 1.0 is float }}{{ 'a' is eq 'a' }}{{ 1 is ne 2 }}{{ 'A' is upper }}{{ 'a' is lower }}{{ 1 is sequence }}{{ [1] is sequence }}{{ range is callable }}{{ 2 is gt 1 }}{{ 2 is ge 2 }}{{ 1 is lt 2 }}{{ 1 is in [1] }}{{ true is true }}{{ false is false }}", {}),
    ("tests_defined", "{{ messages is defined }}{{ nothing is defined }}{{ nothing is not defined }}{{ strftime_now is defined }}{{ raise_exception is defined }}{{ messages[0].role is defined }}{{ messages[9] is defined }}", {}),
    # macros
    ("macro_defaults", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", {}),
    ("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("macro_whitespace", "{%- macro m(x) -%}\n    [{{ x }}]\n{%- endmacro -%}\n{{ m(1) }}{{ m(2) }}", {}),
    ("macro_sees_globals", "{% macro show() %}{{ messages | length }}{% endmacro %}{{ show() }}", {}),
    # globals
    ("globals", "{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(5, 0, -2) | list }}|{{ dict(a=1, b='x') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %d %b %B %A %a %j %p %I %y %m') }}", {}),
    ("if_elif_else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}", {}),
    ("unicode", "{{ 'héllo wörld 🎉'.upper() }}|{{ '🎉x' | length }}|{{ 'naïve'[2] }}|{{ 'é' | tojson }}|{{ ['ü'] }}", {}),
    ("none_and_bool_print", "{{ none }}|{{ True }}|{{ False }}|{{ None }}|{{ true }}", {}),
    ("generation_prompt", "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}", {"add_generation_prompt": True}),
    ("bos_eos", "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}", {"bos_token": "<s>", "eos_token": "</s>"}),
    ("generation_block", "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}", {}),
    # errors
    ("err_raise", "{{ raise_exception('bad role: ' + messages[0].role) }}", {}),
    ("err_unclosed_if", "{% if true %}x", {}),
    ("err_unclosed_output", "{{ 1 + ", {}),
    ("err_unknown_tag", "{% frobnicate %}", {}),
    ("err_unknown_filter", "{{ 1 | frobnicate }}", {}),
    ("err_call_undefined", "{{ nothing() }}", {}),
    ("err_add_str_int", "{{ 'a' + 1 }}", {}),
    ("err_div_zero", "{{ 1 // 0 }}", {}),
    ("err_endfor_mismatch", "{% for x in [1] %}{% endif %}", {}),
    ("err_unknown_test", "{{ 1 is frobnicate }}", {}),
    ("err_include", "{% include 'other.jinja' %}", {}),
    ("err_attr_assign_not_namespace", "{% set x = {} %}{% set x.y = 1 %}", {}),
    ("err_iterate_number", "{% for x in 5 %}{% endfor %}", {}),
    ("err_list_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("err_dict_update", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
]

CONVERSATION = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi there"}, {"role": "user", "content": "Who are you"},
                {"role": "assistant", "content": "   I am an assistant   "}, {"role": "user", "content": "Another question"}]
THINKING = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
            {"role": "user", "content": "And 3+3?"}]
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

# (fixture, messages, add_generation_prompt, bos, eos, extra variables)
FIXTURE_CASES = [
    (name, msgs, gen, bos, eos, extra)
    for name, bos, eos in [("meta-llama-Llama-3.3-70B-Instruct", "<|begin_of_text|>", "<|eot_id|>"),
                           ("meta-llama-Llama-3.2-3B-Instruct", "<|begin_of_text|>", "<|eot_id|>"),
                           ("Qwen-Qwen3-0.6B", "", "<|im_end|>"),
                           ("google-gemma-2-2b-it", "<bos>", "<eos>"),
                           ("microsoft-Phi-3.5-mini-instruct", "<s>", "<|endoftext|>"),
                           ("meta-llama-Meta-Llama-3-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>"),
                           ("Qwen-Qwen2.5-7B-Instruct", "", "<|im_end|>"),
                           ("google-gemma-3-1b-it", "<bos>", "<eos>"),
                           ("HuggingFaceTB-SmolLM2-1.7B-Instruct", "", "<|im_end|>"),
                           ("microsoft-Phi-3-mini-4k-instruct", "<s>", "<|endoftext|>")]
    for msgs, gen, extra in [(CONVERSATION, True, {}), (CONVERSATION, False, {}), (CONVERSATION[1:], True, {}),
                             (THINKING, True, {}), (THINKING[:2], False, {}), (CONVERSATION, True, {"enable_thinking": False}),
                             (CONVERSATION[1:4], True, {"tools": [TOOL]})]
] + [
    # gpt-oss (harmony): its own variables, built-in tools, and a tool message with no tool call before it (raises)
    ("openai-gpt-oss-120b", msgs, gen, "<|startoftext|>", "<|return|>", extra)
    for msgs, gen, extra in [(CONVERSATION, True, {}), (CONVERSATION, False, {}), (CONVERSATION[1:], True, {}),
                             (CONVERSATION[1:2], True, {"reasoning_effort": "high", "model_identity": "You are SinkLab's test."}),
                             (CONVERSATION[1:4], True, {"tools": [TOOL]}), (CONVERSATION[1:2], True, {"builtin_tools": ["browser", "python"]}),
                             (CONVERSATION[1:2] + [{"role": "tool", "content": "sunny"}], True, {})]
]

def render_fixtures():
    out = []
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures")
    for name, msgs, gen, bos, eos, extra in FIXTURE_CASES:
        with open(os.path.join(folder, name + ".jinja"), encoding="utf-8") as f:
            template = env.from_string(f.read())
        case = {"fixture": name, "messages": msgs, "add_generation_prompt": gen, "bos_token": bos, "eos_token": eos, "extra": extra}
        try:
            case["expected"] = template.render(messages=msgs, add_generation_prompt=gen, bos_token=bos, eos_token=eos, **extra)
        except Exception as e:  # noqa: BLE001
            case["error"] = True
            case["jinja_error"] = f"{type(e).__name__}: {e}"
        out.append(case)
    return out

def main():
    out = []
    for name, template, extra in CASES:
        ctx = {"messages": MSGS, "add_generation_prompt": False, "bos_token": "", "eos_token": ""}
        ctx.update(extra)
        case = {"name": name, "template": template, "context": extra}
        try:
            case["expected"] = env.from_string(template).render(**ctx)
        except Exception as e:  # noqa: BLE001 - any Jinja error is an expected failure
            case["error"] = True
            case["jinja_error"] = f"{type(e).__name__}: {e}"
        out.append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump({"generator": f"jinja2 {jinja2.__version__}", "messages": MSGS, "clock": CLOCK.isoformat(), "cases": out, "fixtures": render_fixtures()}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(FIXTURE_CASES)} fixture renderings; {len(out)} cases, {sum(1 for c in out if c.get('error'))} errors -> {path}")

if __name__ == "__main__":
    sys.exit(main())
