"""Pre-tokenizer splits of the o200k pattern (gpt-oss, GPT-4o; tiktoken's o200k_base pat_str, as in the HF
tokenizer.json that llama.cpp quotes for LLAMA_VOCAB_PRE_TYPE_GPT4O), computed with Python's `regex` module
(Debian: python3-regex) as an independent reference for SinkLab's .NET pattern. Regenerate:
    python3 tests/data/o200k-splits.py > tests/data/o200k-splits.json
"""
import json
import regex

PAT = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
       r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
       r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

TEXTS = [
    "Hello world",
    "HelloWorld and camelCaseWords, HTTPServer XMLHttpRequest",
    "I'm sure they'LL say it's fine; WE'RE done, you've seen 'em",
    "In 1812, 123456789 soldiers marched 3.14159 km",
    "  leading spaces\tand\ttabs   \n\n  trailing   ",
    "line one\r\nline two\n/path/to/file\n//comment",
    "Prince Andrew—who was there—said: \"Well, Prince, so Genoa and Lucca are now just family estates!\"",
    "naïve café façade Über Ärger ﬁnance",
    "Русский текст и English mixed 42",
    "日本語のテキスト、漢字とかな。中文也可以",
    "emoji 🙂🙃 and symbols ©®™ ±×÷ <tag/> {json: [1,2,3]}",
    "ÀÉÎõü combining é (e + U+0301) and ﬀ",
    "x=a+b*c/d; if (x>=10) { return -1; }",
    "MiXeD CaSe LeTtErS and ALLCAPS followed by lower",
    "tabs\t\t\tand\u00a0nbsp\u2003em-space",
    "numbers like 1,000,000 and 0x1F and 12ab34",
]

print(json.dumps([{"text": t, "pieces": regex.findall(PAT, t)} for t in TEXTS], ensure_ascii=False, indent=1))
