"""LFADS family (RADICaL, calcium-LFADS, AutoLFADS) on simulated Lorenz data"""
