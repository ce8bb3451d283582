"""Training-record cards (培训记录): issued on a pass, printable, verifiable by anyone."""
