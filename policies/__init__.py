"""补贴政策清单: the public list of subsidy policies (built in the policy-list issue)."""
