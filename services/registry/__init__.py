"""registry: areas, organizations, committees, members, check-ins, pledges, roles, service records."""
