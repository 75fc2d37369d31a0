"""Settings > Team: the people in an account and what owners and admins may do to them."""
