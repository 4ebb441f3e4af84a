"""UGC and KOC (用户原创内容 · 关键意见消费者): customer posts, moderation, rewards, ranking."""
