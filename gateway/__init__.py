"""Chat adapters (Telegram, Discord, Slack).

They will turn chat messages into cards and board events into replies, with approvals as
buttons and allowlists; like everything else they only talk to the board.
"""
