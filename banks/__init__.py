"""代发金融机构: banks, agreements and the bank exchange API (built in the bank issue)."""
