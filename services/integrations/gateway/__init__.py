"""The versioned gateway API tools call: who am I, actions, searches, dropdown lists."""
