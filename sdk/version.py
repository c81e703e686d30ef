"""The SDK's release, sent as `context.library.version` and in the User-Agent."""

VERSION = "0.1.0"
LIBRARY_NAME = "northstar-python"
