"""资金发放: payouts, payments, review and batches (built in the payout and batch issues)."""
