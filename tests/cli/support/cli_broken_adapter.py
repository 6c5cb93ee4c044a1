"""An adapter module whose import fails, as a plugin with a missing dependency would."""

import cli_ref_missing_dependency  # noqa: F401
