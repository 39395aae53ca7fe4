"""Reference data import (job kind reference.import)."""
