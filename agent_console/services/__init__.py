"""The console's rules, kept out of the views: accounts, login limits, residents, bookings, …"""
