"""Security settings: MFA enrolment, codes, recovery keys and the enrolment guard."""
