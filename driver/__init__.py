"""The day's drivers: open the streaming session, follow its journal, close it (stream first, the
bounded batch job as the fallback), settle in shards, replay a bundle."""
