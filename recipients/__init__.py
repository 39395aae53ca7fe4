"""补贴对象: the recipient registry and roster uploads (built in the roster issue)."""
